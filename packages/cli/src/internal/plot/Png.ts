/**
 * A chart's SVG rasterized to PNG by resvg (`@resvg/resvg-js`, a native
 * build installed from npm for the platform; no network at run time). Its
 * text is drawn with the system's fonts (DejaVu Sans or Liberation Sans
 * where present, else any sans-serif font found).
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { FONT_FAMILY } from "./Svg.ts"

/** resvg could not be loaded (no build for this platform) or could not render: exit 1. */
export class RenderError extends Schema.TaggedError<RenderError>()("RenderError", {
  message: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {}

const family = FONT_FAMILY.split(",")[0]!.trim()

export const render = (svg: string) =>
  Effect.tryPromise({
    try: async () => {
      const { Resvg } = await import("@resvg/resvg-js")
      const png = new Resvg(svg, {
        font: { loadSystemFonts: true, defaultFontFamily: family, sansSerifFamily: family },
        fitTo: { mode: "original" },
        background: "#ffffff"
      }).render()
      return png.asPng()
    },
    catch: (cause) => new RenderError({ message: `could not render the PNG with @resvg/resvg-js: ${cause instanceof Error ? cause.message : String(cause)}`, cause })
  })
