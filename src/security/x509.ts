/**
 * The one place that loads `@peculiar/x509`: it needs `reflect-metadata` evaluated before it (its
 * ASN.1 schemas use decorators) and a WebCrypto implementation, which Node provides.
 */
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509, webcrypto };
