"""Every GraphQL document the client sends (the server's contract: docs/api.md; webhooks:
docs/webhooks.md)."""

FILE_FIELDS = """
fragment FileFields on File {
  id name size kind contentType status progress error failureCode sha256
  uploadedAt processedAt version deleted url
}"""

FILES = (
    """
query Files($first: Int!, $after: String, $filters: FileFilter) {
  files(first: $first, after: $after, filters: $filters) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { ...FileFields } }
  }
}"""
    + FILE_FIELDS
)

FILE = "query File($id: ID!) { file(id: $id) { ...FileFields } }" + FILE_FIELDS

UPLOAD_FILE = (
    "mutation UploadFile($file: Upload!) { uploadFile(file: $file) { ...FileFields } }"
    + FILE_FIELDS
)

FILE_UPDATES = (
    "subscription FileUpdates($ids: [ID!]) { fileUpdates(ids: $ids) { ...FileFields } }"
    + FILE_FIELDS
)

WEBHOOK_FIELDS = """
fragment WebhookFields on Webhook {
  id url events createdAt lastDelivery { status attempts respondedWith at }
}"""

WEBHOOKS = "query Webhooks { webhooks { ...WebhookFields } }" + WEBHOOK_FIELDS

CREATE_WEBHOOK = (
    """
mutation CreateWebhook($url: String!, $events: [WebhookEvent!]!) {
  createWebhook(url: $url, events: $events) { secret webhook { ...WebhookFields } }
}"""
    + WEBHOOK_FIELDS
)

DELETE_WEBHOOK = "mutation DeleteWebhook($id: ID!) { deleteWebhook(id: $id) }"
