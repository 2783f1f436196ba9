// A throwaway Redis server for tests: redis-server on a free loopback port, keeping nothing on disk, gone on stop().
import { rmSync } from 'node:fs';
import { connect } from 'node:net';
import {
  createScratchDir,
  findExecutable,
  serveFromScratchDir,
  startOnFreePort,
  type ThrowawayServer,
} from './throwaway-postgres.ts';

export async function startThrowawayRedis(): Promise<ThrowawayServer> {
  const redisServer = findExecutable('redis-server');
  if (!redisServer) {
    throw new Error(
      'redis-server not found on PATH. Install the Debian package `redis-server` (apt-get install redis-server, ' +
        'or scripts/install-system-deps.sh), or set REDIS_URL to a Redis the tests may use.',
    );
  }
  const dir = createScratchDir('redis');
  const stopSignal = 'SIGKILL'; // nothing to save: save "" and no AOF
  return serveFromScratchDir({ dir, removeAtExit: () => rmSync(dir, { recursive: true, force: true }), stopSignal }, async () => {
    const { port, server } = await startOnFreePort({
      name: 'redis',
      dir,
      user: undefined,
      stopSignal,
      command: (port) => [
        redisServer,
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no'],
      ],
      isReady: async (port, server) => (await redisProcessId(port)) === server.child.pid,
    });
    return { url: `redis://127.0.0.1:${port}`, server };
  });
}

/**
 * The process id of the Redis answering PING on the port, or undefined if none does yet. Compared with our child's
 * pid, so that another run's Redis on the same port is not mistaken for ours.
 */
function redisProcessId(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const finish = (pid?: number) => {
      socket.destroy();
      resolve(pid);
    };
    socket.setTimeout(2_000, () => finish());
    socket.on('error', () => finish());
    socket.on('close', () => finish());
    socket.on('connect', () => socket.write('PING\r\nINFO server\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
      const pid = /\r\nprocess_id:(\d+)\r\n/.exec(reply)?.[1];
      if (reply.startsWith('+PONG\r\n') && pid !== undefined) finish(Number(pid));
    });
  });
}
