// Reading a re-rendered form out of a page's HTML: the value an input holds, and the note beside a field.

/** The opening tag of the input, select or textarea named `name` (the first one, or the one inside form `formId`'s ids). */
function controlTag(html: string, name: string, formId?: string): string | undefined {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const tags = [...html.matchAll(new RegExp(`<(input|select|textarea)\\b[^>]*\\bname="${escaped}"[^>]*>`, 'g'))].map((m) => m[0]);
  if (formId === undefined) return tags[0];
  // A page with several forms: the control of form `formId` (the field partial's id, field-<formId>-<name>).
  return tags.find((t) => t.includes(`id="field-${formId}-`));
}

/** The value the page's control `name` shows: an input's value attribute, a select's selected option. */
export function shownValue(html: string, name: string, formId?: string): string | undefined {
  const tag = controlTag(html, name, formId);
  if (!tag) return undefined;
  if (tag.startsWith('<select')) {
    const start = html.indexOf(tag);
    const select = html.slice(start, html.indexOf('</select>', start));
    return /<option value="([^"]*)" selected/.exec(select)?.[1];
  }
  const value = /\bvalue="([^"]*)"/.exec(tag)?.[1];
  return value === undefined ? undefined : unescapeHtml(value);
}

/**
 * The note beside field `name`: the control is marked aria-invalid and described by an element whose text is the
 * note. Undefined when the field is not marked.
 */
export function noteBeside(html: string, name: string, formId?: string): string | undefined {
  const tag = controlTag(html, name, formId);
  if (!tag || !tag.includes('aria-invalid="true"')) return undefined;
  const id = /aria-describedby="([^"]+)"/.exec(tag)?.[1];
  if (!id) return undefined;
  const escaped = id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const note = new RegExp(`id="${escaped}"[^>]*>([\\s\\S]*?)</(?:p|span)>`).exec(html)?.[1];
  return note === undefined ? undefined : unescapeHtml(note.replace(/<[^>]+>/g, '')).trim();
}

function unescapeHtml(text: string): string {
  return text.replace(/&#39;/g, "'").replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}
