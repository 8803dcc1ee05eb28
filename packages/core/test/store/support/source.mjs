// Loads core's TypeScript sources in a child process (Node strips the types; the sources import
// their siblings as `.js`, which resolves to the `.ts` file next to it).
import { registerHooks } from "node:module"

registerHooks({
  resolve(specifier, context, next) {
    try {
      return next(specifier, context)
    } catch (e) {
      if (specifier.startsWith(".") && specifier.endsWith(".js")) return next(`${specifier.slice(0, -3)}.ts`, context)
      throw e
    }
  }
})
