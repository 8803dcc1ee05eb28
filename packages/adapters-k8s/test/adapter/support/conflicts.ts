/**
 * A concurrent writer placed exactly between the adapter's read and its write. The adapter talks to
 * the test control plane through this proxy (plain HTTP on 127.0.0.1, forwarded to the real
 * apiserver with the admin credentials). When the adapter sends a write to a workload that carries
 * a resourceVersion precondition, the proxy first writes to that same object itself (an annotation
 * of its own, like another controller or an operator would), then forwards the adapter's write: the
 * apiserver answers it with a real 409 Conflict. The adapter's next write to that object goes through
 * untouched, so every write of the adapter conflicts exactly once and has to be retried to land.
 * Everything else (reads, lists, watches, pod deletes) is forwarded as it is.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import { request as httpsRequest } from "node:https"
import { writeFileSync } from "node:fs"
import { KubeConfig } from "@kubernetes/client-node"

/** The annotation the concurrent writer sets (its value counts its writes). */
export const CONCURRENT_ANNOTATION = "test.sluice.dev/concurrent-write"

const WORKLOAD = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/(daemonsets|statefulsets|deployments)\/([^/?]+)(\?|$)/

export interface ConflictRecord {
  readonly method: string
  readonly path: string
  readonly status: number
  /** Whether the proxy wrote to the object just before forwarding this request. */
  readonly injected: boolean
  /** The adapter's body, for telling prepare, restore and conclude apart. */
  readonly body: string
}

export interface ConflictProxy {
  /** A kubeconfig that reaches the control plane through the proxy. */
  readonly kubeconfig: string
  /** Every write to a workload the adapter sent, in order, with the apiserver's answer. */
  readonly writes: () => ReadonlyArray<ConflictRecord>
  /** How many times the concurrent writer wrote, per workload (`namespace/resource/name`). */
  readonly concurrentWrites: () => ReadonlyMap<string, number>
  readonly stop: () => Promise<void>
}

export async function startConflictProxy(upstreamKubeconfig: string, file: string): Promise<ConflictProxy> {
  const kc = new KubeConfig()
  kc.loadFromFile(upstreamKubeconfig)
  const cluster = kc.getCurrentCluster()
  const user = kc.getCurrentUser()
  if (cluster === null || user === null) throw new Error(`${upstreamKubeconfig}: no current cluster/user`)
  const upstream = new URL(cluster.server)
  const tls = {
    ca: Buffer.from(cluster.caData ?? "", "base64"),
    cert: Buffer.from(user.certData ?? "", "base64"),
    key: Buffer.from(user.keyData ?? "", "base64")
  }
  const writes: Array<ConflictRecord> = []
  const concurrent = new Map<string, number>()
  /** Per workload path: whether the adapter's last write to it was answered with a 409. */
  const lastConflicted = new Map<string, boolean>()

  /** One request to the real apiserver, streamed back (watches stay open). */
  const forward = (
    method: string,
    path: string,
    headers: IncomingMessage["headers"],
    body: Buffer
  ): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => {
      const { host: _host, connection: _connection, ...rest } = headers
      const req = httpsRequest(
        {
          hostname: upstream.hostname,
          port: upstream.port,
          method,
          path,
          headers: { ...rest, "content-length": String(body.length) },
          ...tls
        },
        resolve
      )
      req.on("error", reject)
      req.end(body)
    })

  const readAll = (stream: IncomingMessage): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const chunks: Array<Buffer> = []
      stream.on("data", (c: Buffer) => chunks.push(c))
      stream.on("end", () => resolve(Buffer.concat(chunks)))
      stream.on("error", reject)
    })

  /** The concurrent writer: an annotation of its own on the same object, as a merge patch. */
  const writeConcurrently = async (key: string, path: string) => {
    const n = (concurrent.get(key) ?? 0) + 1
    concurrent.set(key, n)
    const body = Buffer.from(JSON.stringify({ metadata: { annotations: { [CONCURRENT_ANNOTATION]: String(n) } } }))
    const res = await forward(
      "PATCH",
      path.split("?")[0] ?? path,
      { "content-type": "application/merge-patch+json", accept: "application/json" },
      body
    )
    const text = (await readAll(res)).toString()
    if (res.statusCode !== 200) throw new Error(`concurrent write to ${path} failed: ${res.statusCode} ${text}`)
  }

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readAll(req)
    const method = req.method ?? "GET"
    const path = req.url ?? "/"
    const workload = WORKLOAD.exec(path)
    const isWrite = (method === "PATCH" || method === "PUT") && workload !== null
    const key = workload === null ? "" : `${workload[1]}/${workload[2]}/${workload[3]}`
    const text = body.toString()
    const injected = isWrite && text.includes('"resourceVersion"') && lastConflicted.get(key) !== true
    if (injected) await writeConcurrently(key, path)
    const up = await forward(method, path, req.headers, body)
    if (isWrite) {
      writes.push({ method, path: key, status: up.statusCode ?? 0, injected, body: text })
      lastConflicted.set(key, up.statusCode === 409)
    }
    res.writeHead(up.statusCode ?? 502, up.headers)
    // A watch's headers must reach the client before its first event (which may never come):
    // client-node's watch resolves on them.
    res.flushHeaders()
    up.pipe(res)
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" })
      res.end(String(error))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  const port = typeof address === "object" && address !== null ? address.port : 0
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      // client-node refuses plain HTTP unless told TLS is not verified: there is no TLS to verify
      // between the adapter and this loopback proxy (the proxy's own upstream is verified).
      clusters: [
        { name: "via-proxy", cluster: { server: `http://127.0.0.1:${port}`, "insecure-skip-tls-verify": true } }
      ],
      users: [{ name: "via-proxy", user: {} }],
      contexts: [{ name: "via-proxy", context: { cluster: "via-proxy", user: "via-proxy" } }],
      "current-context": "via-proxy"
    })
  )
  return {
    kubeconfig: file,
    writes: () => [...writes],
    concurrentWrites: () => new Map(concurrent),
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}
