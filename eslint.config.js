// @ts-check
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

const testCalls = [
  {
    from: 'package',
    package: 'node:test',
    name: ['test', 'describe', 'it', 'suite', 'before', 'after', 'beforeEach', 'afterEach'],
  },
]

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      '**/node_modules/**',
      '.outpost/**',
      'test-artifacts/**',
      'bench-results/**',
      '**/*.js',
      '**/*.mjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: testCalls }],
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true },
      ],
      '@typescript-eslint/no-unnecessary-condition': [
        'error',
        { allowConstantLoopConditions: true },
      ],
      '@typescript-eslint/prefer-readonly': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/no-non-null-assertion': 'error',
      '@typescript-eslint/no-extraneous-class': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@outpost/*/src/*'],
              message: 'Import a package through its exports, not its src/',
            },
          ],
        },
      ],
    },
  },
  {
    // Tests may use non-null assertions on fixtures they built themselves.
    files: ['**/*.test.ts', '**/test/**/*.ts', '**/bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
    },
  },
  {
    // The sans-I/O cores: no sockets, no files, no Buffer.
    files: [
      'packages/wire/src/**/*.ts',
      'packages/tls/src/{record,messages,server,crypto}/**/*.ts',
      'packages/keyless/src/codec/**/*.ts',
    ],
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-globals': [
        'error',
        { name: 'Buffer', message: 'Core packages take and return Uint8Array' },
      ],
      'no-restricted-imports': [
        'error',
        { paths: ['node:net', 'node:fs', 'node:http', 'node:tls', 'node:fs/promises'] },
      ],
    },
  },
)
