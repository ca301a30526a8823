/**
 * Copies the repository's examples into `templates/` before `npm pack` /
 * `npm publish`, so that `expops create` finds them in the installed package.
 * npm leaves `.gitignore` files out of packages: it travels as `gitignore`
 * and `expops create` renames it back. With `--clean` (after packing) it
 * removes them: in a checkout the examples themselves are the templates.
 */
import { cpSync, existsSync, readdirSync, renameSync, rmSync } from "node:fs"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const here = Path.dirname(fileURLToPath(import.meta.url))
const examples = Path.resolve(here, "../../../examples")
const templates = Path.resolve(here, "../templates")

rmSync(templates, { recursive: true, force: true })
if (process.argv.includes("--clean")) process.exit(0)
for (const name of readdirSync(examples)) {
  const target = Path.join(templates, name)
  cpSync(Path.join(examples, name), target, {
    recursive: true,
    filter: (src) => ![".expops", "node_modules", "dist"].includes(Path.basename(src))
  })
  if (existsSync(Path.join(target, ".gitignore"))) renameSync(Path.join(target, ".gitignore"), Path.join(target, "gitignore"))
  console.log(`templates/${name}`)
}
