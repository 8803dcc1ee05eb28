import * as http from "node:http"
import * as https from "node:https"
import * as net from "node:net"
import type { ProbeAction } from "./config.js"
import type { Engine } from "./engine.js"
import type { Json } from "./recreate.js"

export interface ProbeResult {
  readonly ok: boolean
  readonly detail: string
}

/** Where a container port is reachable from the controller: its published host port, else its IP. */
export const probeAddress = (
  engine: Engine,
  container: Json,
  port: number,
  via: "auto" | "published" | "container-ip"
): { host: string; port: number } | undefined => {
  if (via !== "container-ip") {
    const bindings = (container.NetworkSettings?.Ports?.[`${port}/tcp`] ?? []) as Array<Json>
    const b = bindings.find((x) => x?.HostPort)
    if (b) {
      const hostIp: string = b.HostIp ?? ""
      const host = hostIp === "" || hostIp === "0.0.0.0" || hostIp === "::" ? engine.publishedAddress : hostIp
      return { host, port: Number(b.HostPort) }
    }
    if (via === "published") return undefined
  }
  for (const n of Object.values((container.NetworkSettings?.Networks ?? {}) as Record<string, Json>)) {
    if (n?.IPAddress) return { host: n.IPAddress, port }
  }
  return undefined
}

const httpGet = (url: string, timeoutMs: number, signal: AbortSignal): Promise<ProbeResult> =>
  new Promise((resolve) => {
    const mod = url.startsWith("https:") ? https : http
    const req = mod.get(url, { timeout: timeoutMs, signal, rejectUnauthorized: false }, (res) => {
      res.resume()
      const code = res.statusCode ?? 0
      resolve({ ok: code >= 200 && code < 400, detail: `GET ${url} → ${code}` })
    })
    req.on("timeout", () => req.destroy(new Error(`timed out after ${timeoutMs}ms`)))
    req.on("error", (e) => resolve({ ok: false, detail: `GET ${url}: ${e.message}` }))
  })

const tcpConnect = (host: string, port: number, timeoutMs: number): Promise<ProbeResult> =>
  new Promise((resolve) => {
    const sock = net.connect({ host, port })
    const done = (r: ProbeResult) => {
      sock.destroy()
      resolve(r)
    }
    sock.setTimeout(timeoutMs, () => done({ ok: false, detail: `tcp ${host}:${port}: timed out` }))
    sock.on("connect", () => done({ ok: true, detail: `tcp ${host}:${port} open` }))
    sock.on("error", (e) => done({ ok: false, detail: `tcp ${host}:${port}: ${e.message}` }))
  })

/** Runs a command inside the container; ok = exit code 0. */
export const execIn = async (
  engine: Engine,
  containerId: string,
  cmd: ReadonlyArray<string>,
  timeoutMs: number,
  signal: AbortSignal
): Promise<ProbeResult> => {
  const exec = await engine.docker
    .getContainer(containerId)
    .exec({ Cmd: [...cmd], AttachStdout: true, AttachStderr: true, abortSignal: signal })
  const stream = await exec.start({ hijack: true, stdin: false })
  let output = ""
  let pending = Buffer.alloc(0)
  await new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      stream.destroy()
      resolve()
    }, timeoutMs)
    stream.on("data", (d: Buffer) => {
      // Multiplexed frames (no TTY): an 8-byte header (stream, 0, 0, 0, big-endian length), then
      // the payload. Keep the tail of the output for the report.
      pending = Buffer.concat([pending, d])
      while (pending.length >= 8) {
        const len = pending.readUInt32BE(4)
        if (pending.length < 8 + len) break
        output = (output + pending.subarray(8, 8 + len).toString("utf8")).slice(-300)
        pending = pending.subarray(8 + len)
      }
    })
    stream.on("end", () => {
      clearTimeout(timer)
      resolve()
    })
    stream.on("error", () => {
      clearTimeout(timer)
      resolve()
    })
  })
  const info = await exec.inspect()
  if (info.Running) return { ok: false, detail: `exec ${cmd.join(" ")}: timed out after ${timeoutMs}ms` }
  const out = output.trim()
  return {
    ok: info.ExitCode === 0,
    detail: `exec ${cmd.join(" ")} → exit ${info.ExitCode}${out ? `: ${out}` : ""}`
  }
}

export const runProbe = async (
  engine: Engine,
  container: Json,
  action: ProbeAction,
  timeoutMs: number,
  signal: AbortSignal
): Promise<ProbeResult> => {
  switch (action.type) {
    case "exec":
      return execIn(engine, container.Id, action.command, timeoutMs, signal)
    case "http": {
      const path = action.path ?? "/"
      const scheme = action.scheme ?? "http"
      if (action.via === "exec") {
        return execIn(
          engine,
          container.Id,
          [
            "wget",
            "-q",
            "-O",
            "/dev/null",
            "-T",
            String(Math.max(1, Math.ceil(timeoutMs / 1000))),
            `${scheme}://127.0.0.1:${action.port}${path}`
          ],
          timeoutMs + 1000,
          signal
        )
      }
      const addr = probeAddress(engine, container, action.port, action.via ?? "auto")
      if (!addr)
        return { ok: false, detail: `port ${action.port} is neither published nor reachable on a container IP` }
      const host = addr.host.includes(":") ? `[${addr.host}]` : addr.host
      return httpGet(`${scheme}://${host}:${addr.port}${path}`, timeoutMs, signal)
    }
    case "tcp": {
      const addr = probeAddress(engine, container, action.port, action.via ?? "auto")
      if (!addr)
        return { ok: false, detail: `port ${action.port} is neither published nor reachable on a container IP` }
      return tcpConnect(addr.host, addr.port, timeoutMs)
    }
  }
}
