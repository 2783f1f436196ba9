// Posting scheduled results to Slack: the message through the outgoing queue (once, when Slack allows), and a chart
// uploaded under it when there is one and the message is already there.
import type { KnownBlock } from '@slack/types';
import type { GatedWebClient } from '../clients/slack.ts';
import { slackErrorCode, withSlackPriority } from '../clients/slack.ts';
import type { SlackOutbox } from '../clients/slack-outbox.ts';
import type { Logger } from '../log.ts';

export interface SlackPost {
  text: string;
  blocks?: KnownBlock[];
  /** A PNG to upload into the same conversation, threaded under the message. */
  image?: { bytes: Buffer; filename: string; title: string };
}

export async function postToChannel(
  slack: GatedWebClient,
  outbox: SlackOutbox,
  channel: string,
  post: SlackPost,
  key: string,
  logger: Logger,
): Promise<void> {
  const published = await outbox.publishAt(
    channel,
    { text: post.text, ...(post.blocks ? { blocks: post.blocks } : {}) },
    { key, priority: 'summary' },
  );
  if (published.outcome === 'queued') {
    logger.warn({ event: 'schedule.post_queued', message: 'Slack did not take the post yet; it is queued and will be posted' });
    return;
  }
  if (post.image && published.channel && published.ts) {
    try {
      await withSlackPriority('summary', () =>
        slack.filesUploadV2({
          channel_id: published.channel!,
          thread_ts: published.ts!,
          file: post.image!.bytes,
          filename: post.image!.filename,
          title: post.image!.title,
        }),
      );
    } catch (error) {
      // The numbers are in the message already; a missing picture is worth a warning, not a failed report.
      logger.warn({ event: 'report.chart_upload_failed', code: slackErrorCode(error) });
    }
  }
}
