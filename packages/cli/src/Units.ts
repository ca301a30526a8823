/**
 * The values of `expops cache prune --max-size 2GB --older-than 30d`, read
 * into Effect's own `ByteSize` and `Duration`. The syntax is the CLI's
 * (compact, case-insensitive units: `500MB`, `1.5GiB`, `1d12h`); the
 * arithmetic is theirs.
 *
 * @since 0.1.0
 */
import * as ByteSize from "effect/ByteSize"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as Result from "effect/Result"

/** Each unit a size may be written in, lower-cased, as ByteSize names it. */
const SIZE_UNITS: Readonly<Record<string, ByteSize.Unit>> = {
  b: "B",
  k: "kB",
  kb: "kB",
  m: "MB",
  mb: "MB",
  g: "GB",
  gb: "GB",
  t: "TB",
  tb: "TB",
  kib: "KiB",
  mib: "MiB",
  gib: "GiB",
  tib: "TiB"
}

/**
 * Why a text is not a size: not one at all, or a number without its unit
 * (`300`, which could mean bytes or megabytes), with the likely meaning.
 *
 * @since 0.1.0
 */
export type SizeProblem =
  | { readonly _tag: "NotASize" }
  | { readonly _tag: "MissingUnit"; readonly suggestion: string }

/**
 * The size in `500MB`, `2GB`, `1.5 GiB` (KB/MB/GB/TB are powers of 1000,
 * KiB/MiB/GiB/TiB of 1024, B is bytes; a fraction of a byte is dropped).
 * A number needs its unit, except `0`.
 *
 * @since 0.1.0
 */
export const parseSize = (text: string): Result.Result<ByteSize.ByteSize, SizeProblem> => {
  const m = text.trim().match(/^(\d+)(?:\.(\d+))?\s*([a-zA-Z]*)$/)
  if (!m) return Result.fail({ _tag: "NotASize" })
  const whole = m[1]!
  const fraction = m[2] ?? ""
  const unitText = m[3]!
  if (unitText === "") {
    // Zero is zero in any unit; any other bare number is ambiguous.
    return /^0+$/.test(whole + fraction)
      ? Result.succeed(ByteSize.zero)
      : Result.fail({ _tag: "MissingUnit", suggestion: `${text.trim()}MB` })
  }
  const unit = SIZE_UNITS[unitText.toLowerCase()]
  if (unit === undefined) return Result.fail({ _tag: "NotASize" })
  // `1.1GiB` is 11 GiB divided by 10: exact, with the remainder (under a byte) dropped.
  const scaled = ByteSize.fromString(`${whole}${fraction} ${unit}`)
  const size = Option.flatMap(scaled, ByteSize.divide(10n ** BigInt(fraction.length)))
  return Option.isSome(size) ? Result.succeed(size.value) : Result.fail({ _tag: "NotASize" })
}

/** Each unit a duration may be written in, lower-cased. */
const DURATION_UNITS: Readonly<Record<string, (amount: number) => Duration.Duration>> = {
  ms: Duration.millis,
  s: Duration.seconds,
  sec: Duration.seconds,
  m: Duration.minutes,
  min: Duration.minutes,
  h: Duration.hours,
  d: Duration.days,
  w: Duration.weeks
}

/**
 * The duration in `30d`, `12h`, `1d12h`, `90m`, `2w`; none when it is not one
 * (a number needs its unit).
 *
 * @since 0.1.0
 */
export const parseDuration = (text: string): Option.Option<Duration.Duration> => {
  const compact = text.trim().replace(/\s+/g, "")
  if (!/^(\d+(?:\.\d+)?[a-zA-Z]+)+$/.test(compact)) return Option.none()
  let total = Duration.zero
  for (const m of compact.matchAll(/(\d+(?:\.\d+)?)([a-zA-Z]+)/g)) {
    const unit = DURATION_UNITS[m[2]!.toLowerCase()]
    if (unit === undefined) return Option.none()
    total = Duration.sum(total, unit(Number(m[1])))
  }
  return Option.some(total)
}
