/**
 * The PKI of a raftlock cluster: certificate creation (certificates.ts), the directory layout and
 * its files (pki-files.ts), and the first-start setup of `raftlock up` (local-pki.ts).
 */
export {
  caValidDaysDefault,
  createCa,
  createNodeCert,
  createThrowawayPki,
  createUserCert,
  leafValidDaysDefault,
} from './certificates.js';
export type { CertKeyPem } from './certificates.js';
export { PkiError, pkiLayout } from './pki-files.js';
export { ensureLocalPki } from './local-pki.js';
