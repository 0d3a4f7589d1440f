import { defineConfig } from "vite";

// The second entry: GraphiQL (src/graphiql/main.tsx), built after the page (vite.config.ts)
// into dist/graphiql/ and served by ServeStatic; templates/graphiql.html loads the two
// fixed-name files graphiql.js and graphiql.css. Everything else it needs (Monaco's workers,
// fonts, lazily loaded chunks) has a hashed name under assets/, found relative to those files
// (`base: "./"`), so the static URL prefix is never built in.
export default defineConfig({
  base: "./",
  worker: { format: "es" }, // Monaco's workers share chunks, which needs ES module workers
  build: {
    outDir: "dist/graphiql",
    emptyOutDir: true,
    chunkSizeWarningLimit: 8192, // Monaco is large, and loaded by this page alone
    rollupOptions: {
      // React libraries mark their modules "use client", which means nothing in a bundle.
      onwarn: (warning, warn) => warning.code === "MODULE_LEVEL_DIRECTIVE" || warn(warning),
      input: { graphiql: "src/graphiql/main.tsx" },
      output: {
        entryFileNames: "[name].js",
        assetFileNames: (asset) =>
          asset.names.includes("graphiql.css") ? "graphiql.css" : "assets/[name]-[hash][extname]",
        chunkFileNames: "assets/[name]-[hash].js",
      },
    },
  },
});
