import { defineConfig } from "vite";

// Built into dist/, which Django serves as static files (whitenoise); templates/app.html
// loads the two fixed-name bundles, so no manifest is needed.
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
