import { readdirSync, utimesSync, writeFileSync } from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "vitest"
import { prune } from "../../../src/internal/replay/record.ts"
import { KEPT } from "../../../src/internal/replay/receipt.ts"
import { tempDir } from "../../helpers.ts"

describe("replay receipts", () => {
  it("a project keeps its newest receipts only, and pruning leaves other files alone", () => {
    const dir = tempDir()
    const names = Array.from({ length: KEPT + 3 }, (_, i) => `receipt-${String(i).padStart(2, "0")}.json`)
    // Written in a shuffled order, each dated by its number: the newest are the highest.
    for (let i = 0; i < names.length; i++) {
      const n = (i * 7) % names.length
      const file = Path.join(dir, names[n]!)
      writeFileSync(file, "{}")
      utimesSync(file, 1_000_000 + n * 60, 1_000_000 + n * 60)
    }
    writeFileSync(Path.join(dir, "receipt-99.json.123.tmp"), "{}")
    prune(dir)
    assert.deepStrictEqual(readdirSync(dir).sort(), [...names.slice(-KEPT), "receipt-99.json.123.tmp"].sort())
  })
})
