import * as net from "node:net"

/**
 * A loopback port nothing listens on (bound, then closed): for a server a test starts, or an
 * address that must not answer (a registry nobody runs).
 */
export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
