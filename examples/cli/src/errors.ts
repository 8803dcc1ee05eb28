import { Schema } from "effect"

/** The command line is wrong: exit 64 with the message and a pointer to `--help`. */
export class UsageError extends Schema.TaggedError<UsageError>()("UsageError", {
  message: Schema.String,
  /** The command whose help to point at, e.g. `apply`. */
  command: Schema.optional(Schema.String)
}) {}

/** A user mistake that is not about the syntax (unknown rollout, rollout not finished, …): exit 64, no hint. */
export class UserError extends Schema.TaggedError<UserError>()("UserError", {
  message: Schema.String
}) {}
