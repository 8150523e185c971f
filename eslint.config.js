// The linter `npm test` runs over src, test, bench and bin: the recommended rules plus typescript-eslint's
// type-aware ones that catch what tsc lets through (a promise nobody awaits, a switch that forgets a
// member of a closed union, `any` leaking past a boundary). Formatting is Prettier's job (.prettierrc.json).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    // Browser code of the dashboard is plain JavaScript without types; the build output and data are not source.
    ignores: ['node_modules/**', 'dist/**', 'data/**', 'src/http/dashboard/**', 'bin/raftlock.js', '**/*.js'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        // tap queues `t.test(...)` and runs subtests in order; its promise needs no await.
        { allowForKnownSafeCalls: [{ from: 'package', package: '@tapjs/test', name: 'test' }] },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        // A `default:` that calls assertNever or answers "unknown" is the project's way to close a switch.
        { considerDefaultExhaustiveForUnions: true, requireDefaultForNonUnion: false },
      ],
      '@typescript-eslint/no-explicit-any': 'error',
      // Object-literal getters cannot see the class's `this`; `server` is the one name that aliases it.
      '@typescript-eslint/no-this-alias': ['error', { allowedNames: ['server'] }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'separate-type-imports' }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        // `_name` marks a parameter an interface requires and this implementation does not need.
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
    },
  },
);
