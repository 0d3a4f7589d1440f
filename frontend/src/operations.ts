// Every GraphQL document the page sends, in one module. `npm run build` types each one from
// the schema snapshot (codegen.ts → src/gql/), so a field the server does not have, or a
// result read the wrong way, fails the type check instead of the page.
import { graphql } from "./gql";

/** What the table, the upload list and live events show of a file (an image's thumbnail
 * too: the table shows it). */
export const fileFields = graphql(`
  fragment FileFields on File {
    id name size kind contentType status progress error uploadedAt processedAt version url
    result { __typename ... on ImageResult { thumbnailUrl } }
  }
`);

export const filesQuery = graphql(`
  query Files($first: Int, $after: String, $filters: FileFilter) {
    files(first: $first, after: $after, filters: $filters, order: {uploadedAt: DESC}) {
      totalCount pageInfo { hasNextPage endCursor }
      edges { node { ...FileFields } }
    }
  }
`);

export const fileDetailQuery = graphql(`
  query FileDetail($id: ID!) {
    file(id: $id) {
      id name size kind contentType sha256 status error uploadedAt processedAt url
      result {
        __typename
        ... on ImageResult { format width height mode animated frames camera takenAt orientation thumbnailUrl }
        ... on CsvResult { encoding delimiter hasHeader rowCount columnCount columns { name type nulls }
                           badRows { line reason } badRowCount }
        ... on TextResult { encoding lineCount wordCount characterCount preview }
        ... on JsonResult { valid error errorLine errorColumn topLevelType keyCount itemCount }
        ... on PdfResult { pageCount title author createdAt encrypted textPreview }
        ... on ArchiveResult { format entryCount totalUncompressedSize entries entriesTruncated }
        ... on AudioResult { format durationSeconds bitrate sampleRate channels tags { key value } }
        ... on CustomResult { kind data }
      }
    }
  }
`);

export const uploadFileMutation = graphql(`
  mutation UploadFile($file: Upload!) { uploadFile(file: $file) { ...FileFields } }
`);

export const reprocessFileMutation = graphql(`
  mutation ReprocessFile($id: ID!) { reprocessFile(id: $id) { id status } }
`);

export const deleteFileMutation = graphql(`
  mutation DeleteFile($id: ID!) { deleteFile(id: $id) }
`);

/** `deleted`: the file's last event, once it is deleted (here or in another tab). */
export const fileUpdatesSubscription = graphql(`
  subscription FileUpdates { fileUpdates { ...FileFields deleted } }
`);

/** Direct uploads on S3 (directUpload.ts): a presigned POST, then completion. */
export const createUploadUrlMutation = graphql(`
  mutation CreateUploadUrl($name: String!, $size: BigInt!) {
    createUploadUrl(name: $name, size: $size) { url fields { name value } file { id } }
  }
`);

export const completeUploadMutation = graphql(`
  mutation CompleteUpload($id: ID!) { completeUpload(id: $id) { ...FileFields } }
`);

/** A file by id, as the table shows it: a tus upload's, once its last byte is in (tus.ts). */
export const fileRowQuery = graphql(`
  query FileRow($id: ID!) { file(id: $id) { ...FileFields } }
`);
