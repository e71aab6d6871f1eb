import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// The bundle is committed (services/gateway/console) and CI rebuilds it from the lock
// and compares: file names carry content hashes, no source maps, no build times.
export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir: "../services/gateway/console",
    emptyOutDir: true,
    sourcemap: false,
    reportCompressedSize: false,
    chunkSizeWarningLimit: 2000,
  },
  server: {
    port: 5173,
    proxy: {
      "/api": "http://127.0.0.1:8000",
      "/oauth": "http://127.0.0.1:8000",
      "/.well-known": "http://127.0.0.1:8000",
      "/account": "http://127.0.0.1:8000",
    },
  },
});
