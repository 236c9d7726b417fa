// ESLint for the web client (`npm run lint`): typescript-eslint's rules with type information (a promise
// nobody awaits or catches is a lost error in a realtime client) and, for the React code in src/, the hooks
// rules (effects' dependencies, hooks at the top level, no setState straight inside an effect, pure renders).
// Each TypeScript project of web/ is linted with its own tsconfig: the page (tsconfig.json), the service
// worker (tsconfig.sw.json), the browser specs and their config (e2e/tsconfig.json).
import js from "@eslint/js";
import reactHooks from "eslint-plugin-react-hooks";
import globals from "globals";
import tseslint from "typescript-eslint";

export default tseslint.config(
  // src/protocol/types.ts is generated from the protocol's schema: fixed at its source, not here
  { ignores: ["dist/", "dev-dist/", "e2e/test-results/", "playwright-report/", "src/protocol/types.ts"] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        project: ["./tsconfig.json", "./tsconfig.sw.json", "./e2e/tsconfig.json"],
        tsconfigRootDir: import.meta.dirname,
      },
      globals: { ...globals.browser },
    },
    rules: {
      // `async` with no `await` is how this code implements a Promise-returning interface (the cache's
      // cursors, fakes in tests); a forgotten promise is what no-floating-promises and no-misused-promises catch.
      "@typescript-eslint/require-await": "off",
      // `_name` is unused on purpose: `const { [key]: _old, ...rest } = obj` drops a key (as tsc allows).
      "@typescript-eslint/no-unused-vars": ["error", {
        argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrorsIgnorePattern: "^_", ignoreRestSiblings: true,
      }],
    },
  },
  { files: ["src/**/*.{ts,tsx}"], ...reactHooks.configs.flat.recommended },
  {
    files: ["eslint.config.js"],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: { ...globals.node } },
  },
);
