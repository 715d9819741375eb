// The whole contract between nsxd and its clients (nsx, the extension, the
// tests): JSON-RPC 2.0 with vscode-jsonrpc's Content-Length framing over a
// Unix socket. Each message says who sends it:
//   client → nsxd   requests (and a few notifications) a client sends
//   nsxd → client   notifications nsxd pushes
// Beside each message a client sends is the one parse nsxd runs on it; what
// fails a parse is an InvalidParams error, and nothing else is done.
// No side spells a method name itself: each uses the constants here.
// The messages are written by area, in protocol/; this module is the one the
// others import.
export * from './protocol/core';
export * from './protocol/model';
export * from './protocol/namespaces';
export * from './protocol/pins';
export * from './protocol/terminals';
