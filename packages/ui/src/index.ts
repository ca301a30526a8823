/**
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as Explainer from "./Explainer.ts"

/**
 * @since 0.1.0
 */
export * as UiError from "./UiError.ts"

/**
 * @since 0.1.0
 */
export * as UiServer from "./UiServer.ts"
