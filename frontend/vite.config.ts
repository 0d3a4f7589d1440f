import { defineConfig } from "vite";

// Built into dist/, which Django serves as static files (ServeStatic); templates/index.html
// loads the two fixed-name bundles (app/app.js, app/main.css), so no manifest is needed.
export default defineConfig({
  build: {
    outDir: "dist",
    emptyOutDir: true,
    rollupOptions: {
      input: "src/main.ts",
      output: {
        entryFileNames: "app/app.js",
        assetFileNames: "app/[name][extname]",
        chunkFileNames: "app/[name].js",
      },
    },
  },
  test: { environment: "node" },
});
