// Posting scheduled results to Slack: the message, and a chart uploaded beside it when there is one.
import type { KnownBlock } from '@slack/types';
import type { WebClient } from '@slack/web-api';
import { slackErrorCode } from '../clients/slack.ts';
import type { Logger } from '../log.ts';

export interface SlackPost {
  text: string;
  blocks?: KnownBlock[];
  /** A PNG to upload into the same conversation, threaded under the message. */
  image?: { bytes: Buffer; filename: string; title: string };
}

export async function postToChannel(
  slack: WebClient,
  channel: string,
  post: SlackPost,
  logger: Logger,
): Promise<{ channel: string; ts: string }> {
  const posted = await slack.chat.postMessage({
    channel,
    text: post.text,
    ...(post.blocks ? { blocks: post.blocks } : {}),
    unfurl_links: false,
  });
  const where = { channel: posted.channel!, ts: posted.ts! };
  if (post.image) {
    try {
      await slack.filesUploadV2({
        channel_id: where.channel,
        thread_ts: where.ts,
        file: post.image.bytes,
        filename: post.image.filename,
        title: post.image.title,
      });
    } catch (error) {
      // The numbers are in the message already; a missing picture is worth a warning, not a failed report.
      logger.warn({ event: 'report.chart_upload_failed', code: slackErrorCode(error) });
    }
  }
  return where;
}
