/**
 * Processes on this host, as the lock and lease files judge their owners.
 */
import { errnoOf } from "./files.ts"

/** Whether process `pid` exists on this host (EPERM: it does, as another user's). */
export const processExists = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return errnoOf(error) === "EPERM"
  }
}
