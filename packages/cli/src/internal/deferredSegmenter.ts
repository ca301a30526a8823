/**
 * effect/cli makes an `Intl.Segmenter` when it loads (`CliOutput`, to measure
 * help text in graphemes). Making one loads ICU's break-iterator data: 5 to
 * 10 ms of every start-up here, though most commands never print help.
 * While the CLI's modules load, `Intl.Segmenter` makes segmenters that make
 * the real one on first use; the real constructor is put back as soon as they
 * have loaded, so no other code (a project's, in particular) sees the stand-in.
 *
 * No `effect` import here: this runs before `effect` loads.
 */

/** Runs `load` with segmenters made on first use, and puts Node's `Intl.Segmenter` back after. */
export const whileLoading = async <A>(load: () => Promise<A>): Promise<A> => {
  const Native = Intl.Segmenter
  class Deferred {
    readonly #args: ConstructorParameters<typeof Intl.Segmenter>
    #real: Intl.Segmenter | undefined
    constructor(...args: ConstructorParameters<typeof Intl.Segmenter>) {
      this.#args = args
    }
    #segmenter(): Intl.Segmenter {
      return (this.#real ??= new Native(...this.#args))
    }
    segment(input: string): Intl.Segments {
      return this.#segmenter().segment(input)
    }
    resolvedOptions(): Intl.ResolvedSegmenterOptions {
      return this.#segmenter().resolvedOptions()
    }
    static supportedLocalesOf = Native.supportedLocalesOf
  }
  // Typed read-only, but a plain writable property of `Intl`, as every standard constructor on it.
  const intl = Intl as { Segmenter: unknown }
  intl.Segmenter = Deferred
  try {
    return await load()
  } finally {
    intl.Segmenter = Native
  }
}
