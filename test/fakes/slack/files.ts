// Canvases (a channel's own, or standalone and shared) and files uploaded the two-step external way
// (files.getUploadURLExternal, bytes to the upload URL, files.completeUploadExternal).
import { isRecord, str } from './args.ts';
import type { SlackState } from './state.ts';
import { SlackApiError, type Args, type FakeFile, type FakeMessage, type Handler } from './types.ts';

/** Canvases (a channel's own, or standalone) and files uploaded the two-step external way. */
export function canvasAndFileMethods(s: SlackState): Record<string, Handler> {
  const ws = s.workspace;
  return {
    'conversations.canvases.create': (args) => {
      if (s.canvasRefusal) throw new SlackApiError(s.canvasRefusal);
      const channel = s.channelById(args, 'channel_id');
      s.requireOpen(channel);
      if ([...s.canvases.values()].some((canvas) => canvas.channel === channel.id))
        throw new SlackApiError('channel_canvas_already_exists');
      const canvas = { id: s.newId('F'), title: channel.name, channel: channel.id, markdown: canvasMarkdown(args) };
      s.canvases.set(canvas.id, canvas);
      return { canvas_id: canvas.id };
    },
    'canvases.create': (args) => {
      if (s.canvasRefusal) throw new SlackApiError(s.canvasRefusal);
      const channel = str(args, 'channel_id') ? s.channelById(args, 'channel_id') : undefined;
      const canvas = {
        id: s.newId('F'),
        title: str(args, 'title'),
        channel: channel?.id ?? null,
        markdown: canvasMarkdown(args),
      };
      s.canvases.set(canvas.id, canvas);
      return { canvas_id: canvas.id };
    },
    'files.getUploadURLExternal': (args) => {
      const filename = str(args, 'filename');
      const length = Number(str(args, 'length'));
      if (!filename || !Number.isInteger(length) || length < 0) {
        throw new SlackApiError('invalid_arguments', {
          response_metadata: { messages: ['[ERROR] filename and length are required'] },
        });
      }
      const file: FakeFile = { id: s.newId('F'), filename, length, title: filename, completed: false, channels: [] };
      s.files.set(file.id, file);
      return { upload_url: `${s.origin}/upload/${file.id}`, file_id: file.id };
    },
    'files.completeUploadExternal': (args) => {
      const entries = Array.isArray(args.files) ? (args.files as { id?: unknown; title?: unknown }[]) : [];
      if (entries.length === 0)
        throw new SlackApiError('invalid_arguments', { response_metadata: { messages: ['[ERROR] files is required'] } });
      const files = entries.map((entry) => {
        const file = s.files.get(String(entry.id));
        if (!file || !file.bytes) throw new SlackApiError('file_not_found');
        return Object.assign(file, { title: typeof entry.title === 'string' ? entry.title : file.title });
      });
      const channelIds = [str(args, 'channel_id'), ...str(args, 'channels').split(',')].filter(Boolean);
      const channels = channelIds.map((id) => s.postTarget({ channel: id }));
      for (const file of files) file.completed = true;
      for (const channel of channels) {
        for (const file of files) file.channels.push(channel.id);
        const message: FakeMessage = {
          channel: channel.id,
          ts: s.newTs(),
          user: ws.botUserId,
          text: str(args, 'initial_comment'),
          reactions: [],
          pinned: false,
        };
        message.files = files.map((f) => ({ id: f.id, name: f.filename, title: f.title }));
        if (str(args, 'thread_ts')) message.threadTs = str(args, 'thread_ts');
        s.messages.push(message);
      }
      return {
        files: files.map((f) => ({
          id: f.id,
          name: f.filename,
          title: f.title,
          size: f.bytes?.length ?? 0,
          channels: f.channels,
        })),
      };
    },
  };
}

/** document_content: { type: 'markdown', markdown } as canvases take it. */
function canvasMarkdown(args: Args): string {
  const content = args.document_content;
  if (!isRecord(content) || content.type !== 'markdown' || typeof content.markdown !== 'string')
    throw new SlackApiError('invalid_arguments', {
      response_metadata: { messages: ['[ERROR] document_content must be { type: markdown, markdown }'] },
    });
  return content.markdown;
}
