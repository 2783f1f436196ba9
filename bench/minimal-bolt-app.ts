// The baseline for bench:ack: a Bolt app in HTTP mode whose slash commands only ack. Prints its port, then serves.
import { createServer } from 'node:http';
import { App, HTTPReceiver } from '@slack/bolt';

const receiver = new HTTPReceiver({ signingSecret: process.env.SLACK_SIGNING_SECRET!, endpoints: '/slack/events' });
const app = new App({ receiver, token: 'xoxb-minimal', tokenVerificationEnabled: false, botId: 'B0', botUserId: 'U0' });
for (const command of ['/health', '/incident'])
  app.command(command, async ({ ack }) => ack({ response_type: 'ephemeral', text: 'ok' }));
const server = createServer(receiver.requestListener);
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  console.log(JSON.stringify({ event: 'bot.started', port: typeof address === 'object' && address ? address.port : 0 }));
});
process.once('SIGTERM', () => server.close(() => process.exit(0)));
