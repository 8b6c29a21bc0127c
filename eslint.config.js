// Lint rules for the whole repository: `make lint` (eslint + prettier --check), run by `make test` and so by CI.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'var/', 'bench/', '.run/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      // A leading underscore marks a parameter or binding kept for its position or shape.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
    },
  },
  {
    // These match control characters on purpose: XML 1.0's forbidden characters (wire), and the
    // refusal of control characters in values that reach host tools (schema/values.ts, tools/).
    files: ['src/wire/**', 'schema/values.ts', 'src/backends/tools/**'],
    rules: { 'no-control-regex': 'off' },
  },
  {
    // Tests and the xe client handle free-form wire records (any field of any class) by design.
    files: ['test/**', 'src/cli/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['**/*.cjs', '**/*.cts'],
    languageOptions: { sourceType: 'commonjs', globals: { ...globals.node } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
