import { CacheStoreConformance } from "@expops/core/testing"
import * as path from "node:path"
import { LocalCacheStore } from "@expops/backend-local"
import { tmpDir } from "./fixtures/tmp.ts"

CacheStoreConformance.suite("local", () => LocalCacheStore.layer(tmpDir()))
CacheStoreConformance.suite("local without index or fsync", () =>
  LocalCacheStore.layerWithoutIndex(path.join(tmpDir(), "cache"), { fsync: false }))
