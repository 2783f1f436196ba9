// This process's name among the replicas: in leases, claims, lock holders and schedule records.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';

/** host:pid:random — unique per process start, readable in logs and in the work table. */
export const REPLICA_ID = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
