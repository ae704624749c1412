import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Against a real Jupyter server: `npm run test:e2e`, run by tests_browser/test_comm_client_e2e.py.
    exclude: [...configDefaults.exclude, 'test/**/*.e2e.test.ts'],
    environment: 'node'
  }
});
