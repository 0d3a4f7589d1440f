// TypeScript types for the page's GraphQL documents, generated from the committed schema
// snapshot (../schema.graphql, written by `make schema`): offline, and the same on every
// machine. `npm run build` runs it before the type check; the output (src/gql/) is not
// committed, so it cannot lag the snapshot.
import type { CodegenConfig } from "@graphql-codegen/cli";

const scalars = {
  BigInt: "number", // schema/graphql/scalars.py sends it as a JSON number
  DateTime: "string", // ISO 8601
  JSON: "unknown", // CustomResult.data: whatever a processor from outside returned
  Upload: "File | null", // a multipart file part; null in the operations JSON
};

const config: CodegenConfig = {
  schema: "../schema.graphql",
  // Every document of the page lives in this one module.
  documents: ["src/operations.ts"],
  ignoreNoDocuments: false,
  generates: {
    "src/gql/": {
      preset: "client",
      presetConfig: { fragmentMasking: false },
      config: {
        // Documents stay plain query text sent with fetch, XHR and graphql-ws: no GraphQL client
        // library, no parsed AST in the bundle.
        documentMode: "string",
        enumsAsTypes: true,
        useTypeImports: true,
        strictScalars: true,
        scalars,
      },
    },
    // Every enum of the schema as a union of its values, used by a document or not: the page
    // reads `ErrorCode` (every `extensions.code` the server may send) from here.
    "src/gql/enums.ts": {
      plugins: ["typescript"],
      config: { onlyEnums: true, enumsAsTypes: true, useTypeImports: true, scalars },
    },
  },
};

export default config;
