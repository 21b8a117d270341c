import { availableParallelism } from "node:os"
import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

// Two projects: `unit` needs nothing but Node (npm test); `e2e` drives real external programs
// (a kube-apiserver built by scripts/kube-apiserver.sh, Debian's python3-cs, cloudstack-ccm
// processes) and fails loudly when one is missing (npm run test:e2e; CI runs both).
const e2e = ["test/e2e/**/*.test.ts", "test/**/*.e2e.test.ts"]

export default defineConfig({
  // examples/ import the package by name, as its users do (tsconfig.json maps the same two).
  resolve: {
    alias: [
      { find: /^cloudstack-ccm\/testing$/, replacement: fileURLToPath(new URL("src/testing.ts", import.meta.url)) },
      { find: /^cloudstack-ccm$/, replacement: fileURLToPath(new URL("src/index.ts", import.meta.url)) }
    ]
  },
  test: {
    setupFiles: ["test/setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    // One module graph per worker: the suite's CPU is less than half that of a fresh graph per file.
    // test/setup.ts undoes what one file leaves on shared modules (@effect/vitest's \`it\`), and
    // runVirtual gives the event loop turns inside long bursts (vitest's RPC deadlines).
    isolate: false,
    // vitest's default on 2 cores is 1 worker (cores - 1); its main process is nearly idle here.
    maxWorkers: Math.max(2, availableParallelism()),
    projects: [
      { extends: true, test: { name: "unit", include: ["test/**/*.test.ts", "examples/**/*.test.ts"], exclude: e2e } },
      // e2e files run one at a time: each starts real servers and processes on a 2-core machine
      {
        extends: true,
        test: { name: "e2e", include: e2e, isolate: true, poolOptions: { forks: { singleFork: true } } }
      }
    ]
  }
})
