/**
 * The sharding settings every runner and driver uses. Effect Cluster's
 * defaults take about 35 s to move the shards of a lost runner (the shard
 * lock expiration); these take a few seconds, at the price of more frequent
 * lock refreshes and polls of PostgreSQL (a few queries a second per
 * runner). docs/cluster.md explains each.
 *
 * All processes of a cluster must use the same shard count: it is fixed here.
 *
 * @since 0.1.0
 */
import type * as ShardingConfig from "effect/cluster/ShardingConfig"
import * as Duration from "effect/Duration"

/**
 * @since 0.1.0
 */
export const sharding: Partial<ShardingConfig.ShardingConfig["Service"]> = {
  shardsPerGroup: 300,
  // A lost runner's shards are taken over once its locks expire.
  shardLockExpiration: Duration.seconds(6),
  shardLockRefreshInterval: Duration.seconds(2),
  runnerHealthCheckInterval: Duration.seconds(1),
  refreshAssignmentsInterval: Duration.millis(500),
  // New messages from a driver that does not know the assignments yet are found by polling.
  entityMessagePollInterval: Duration.millis(500),
  entityReplyPollInterval: Duration.millis(200),
  // On SIGTERM (or when shards move) running processes get this long to finish before they are interrupted
  // and, being persisted, re-run elsewhere.
  entityTerminationTimeout: Duration.seconds(10),
  entityMaxIdleTime: Duration.seconds(30)
}

/**
 * How long a SIGTERMed runner waits for its running processes (`entityTerminationTimeout`).
 *
 * @since 0.1.0
 */
export const drainSeconds = 10

/**
 * A runner that has not refreshed its registration for this long is not counted as alive.
 *
 * @since 0.1.0
 */
export const runnerStaleSeconds = 8

/**
 * A runner whose PostgreSQL has not answered for this long stops.
 *
 * @since 0.1.0
 */
export const storageLostSeconds = 30
