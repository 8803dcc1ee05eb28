import { Schema } from "effect"

/** A bundle could not be loaded. The engine turns this into a deny (fail closed). */
export class BundleLoadError extends Schema.TaggedError<BundleLoadError>()("BundleLoadError", {
  bundle: Schema.String,
  reason: Schema.Literals(["missing", "unreadable", "invalid-wasm", "entrypoint", "invalid-data"]),
  message: Schema.String
}) {}
