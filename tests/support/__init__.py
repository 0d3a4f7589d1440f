"""What the tests are made of: GraphQL and websocket clients, the real processes (servers,
workers), documents, samples, the browser. Test modules import from here, never from
`conftest` or from another test module."""
