// The web page's behaviour: pick a photo (file, camera, drop, paste), send it with the chosen style and settings,
// show the queue position while it waits, then the result with a before/after slider, a download link and
// "another style" buttons. Plain JavaScript, no build step; every text comes from the server (texts.ts).

const { texts: T, maxUploadBytes, styles } = JSON.parse(document.getElementById('config').textContent);
const $ = (id) => document.getElementById(id);
const form = $('form');
const drop = $('drop');
const status = $('status');
const errorBox = $('error');
const result = $('result');
const compare = $('compare');
const actionButtons = [$('paint'), $('every')];

/** The photo the visitor chose, and the server's key for it once a picture of it came back. */
let photo;
let photoUrl;
let original;
let resultUrl;

const fill = (text, values) => text.replace(/\{(\w+)\}/g, (_, k) => values[k] ?? '');
const mb = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const styleName = (id) => styles.find((s) => s.id === id)?.name ?? id;

function showStatus(text, busy = false) {
  status.textContent = text;
  status.classList.toggle('busy', busy);
}

function showError(text) {
  showStatus('');
  errorBox.textContent = text;
  errorBox.hidden = !text;
}

function choose(file) {
  if (!file) return;
  showError('');
  if (file.type && !file.type.startsWith('image/')) return showError(T.notPicture);
  if (file.size > maxUploadBytes) return showError(fill(T.tooLarge, { size: mb(file.size), limit: mb(maxUploadBytes) }));
  photo = file;
  original = undefined;
  result.hidden = true;
  if (photoUrl) URL.revokeObjectURL(photoUrl);
  photoUrl = URL.createObjectURL(file);
  $('chosen').src = photoUrl;
  $('chosen').hidden = false;
}

/** The chosen style and settings in the chat grammar's words (style=cute&smooth=0.4&faces=on…). */
function settings() {
  const query = new URLSearchParams();
  for (const input of form.elements) {
    if (!input.name) continue;
    if (input.type === 'radio') {
      if (input.checked) query.set(input.name, input.value);
    } else if (input.type === 'checkbox') {
      query.set(input.name, input.checked ? 'on' : 'off');
    } else if (input.type === 'range') {
      query.set(input.name, input.value);
    }
  }
  return query;
}

/** Newline-delimited JSON events from a streamed answer. */
async function* events(body) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffered += value;
    const lines = buffered.split('\n');
    buffered = lines.pop();
    for (const line of lines) if (line.trim()) yield JSON.parse(line);
  }
  if (buffered.trim()) yield JSON.parse(buffered);
}

async function paint(kind) {
  showError('');
  if (!photo && !original) return showError(T.noPhoto);
  const query = settings();
  if (original) query.set('original', original);
  actionButtons.forEach((b) => (b.disabled = true));
  showStatus(T.uploading, true);
  let finished = false;
  try {
    const res = await fetch(`/api/${kind}?${query}`, {
      method: 'POST',
      body: original ? undefined : photo,
      headers: original ? {} : { 'content-type': photo.type || 'application/octet-stream' },
    });
    if (!res.ok) {
      const answer = await res.json().catch(() => ({}));
      if (res.status === 410 && photo) {
        // The server let our kept original go: send the photo itself again.
        original = undefined;
        finished = true;
        return paint(kind);
      }
      finished = true;
      return showError(answer.error ?? T.connection);
    }
    for await (const event of events(res.body)) {
      if (event.type === 'position' || event.type === 'painting') showStatus(event.text, true);
      else if (event.type === 'error') {
        finished = true;
        showError(event.text);
      } else if (event.type === 'done') {
        finished = true;
        showResult(event, kind === 'every-style');
      }
    }
    if (!finished) showError(T.connection);
  } catch {
    showError(T.connection);
  } finally {
    actionButtons.forEach((b) => (b.disabled = false));
  }
}

function showResult(event, grid) {
  original = event.original;
  const bytes = Uint8Array.from(atob(event.image), (c) => c.charCodeAt(0));
  if (resultUrl) URL.revokeObjectURL(resultUrl);
  resultUrl = URL.createObjectURL(new Blob([bytes], { type: event.mime }));
  const after = $('after');
  after.src = resultUrl;
  after.dataset.style = event.style;
  $('before').src = photoUrl ?? '';
  const plain = grid || !photoUrl || settings().get('compare') === 'on';
  compare.classList.toggle('plain', plain);
  $('slider').value = '50';
  compare.style.setProperty('--split', '50%');
  const download = $('download');
  download.href = resultUrl;
  download.download = `anime-${grid ? 'every-style' : event.style}.${event.mime.split('/')[1].replace('jpeg', 'jpg')}`;
  $('caption').textContent = event.caption;
  const another = $('another');
  another.replaceChildren(
    ...styles
      .filter((s) => s.id !== event.style)
      .map((s) => {
        const button = document.createElement('button');
        button.type = 'button';
        button.className = 'button';
        button.textContent = s.name;
        button.addEventListener('click', () => {
          form.querySelector(`input[name="style"][value="${s.id}"]`).checked = true;
          void paint('paint');
        });
        return button;
      }),
  );
  showStatus('');
  result.hidden = false;
  result.scrollIntoView({ behavior: 'smooth', block: 'start' });
}

/** Style cards show the sample portrait in each style: one sheet, each card showing its own cell. */
async function loadPreviews() {
  const res = await fetch('/api/previews').catch(() => undefined);
  if (!res?.ok) return;
  const sheet = await res.json();
  for (const cell of sheet.cells) {
    const thumb = document.querySelector(`.thumb[data-style="${cell.style}"]`);
    if (!thumb) continue;
    thumb.style.backgroundImage = `url("${sheet.image}")`;
    thumb.style.backgroundSize = `${(sheet.width / cell.width) * 100}% auto`;
    const x = sheet.width === cell.width ? 0 : (cell.x / (sheet.width - cell.width)) * 100;
    const y = sheet.height === cell.height ? 0 : (cell.y / (sheet.height - cell.height)) * 100;
    thumb.style.backgroundPosition = `${x}% ${y}%`;
  }
}

// A file the browser cannot show (TIFF, or no picture at all) still goes to the server, which says what is wrong.
$('chosen').addEventListener('error', () => ($('chosen').hidden = true));
for (const id of ['file', 'camera']) $(id).addEventListener('change', (e) => choose(e.target.files?.[0]));
for (const type of ['dragenter', 'dragover']) {
  document.addEventListener(type, (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
}
for (const type of ['dragleave', 'drop']) document.addEventListener(type, () => drop.classList.remove('over'));
document.addEventListener('drop', (e) => {
  e.preventDefault();
  choose(e.dataTransfer?.files?.[0]);
});
document.addEventListener('paste', (e) => {
  const file = [...(e.clipboardData?.files ?? [])][0];
  if (file) choose(file);
});
form.addEventListener('submit', (e) => {
  e.preventDefault();
  void paint('paint');
});
$('every').addEventListener('click', () => void paint('every-style'));
form.addEventListener('input', (e) => {
  if (e.target.type === 'range') form.querySelector(`output[for="${e.target.id}"]`).textContent = e.target.value;
});
$('slider').addEventListener('input', (e) => compare.style.setProperty('--split', `${e.target.value}%`));
void loadPreviews();
