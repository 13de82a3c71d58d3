import sharp from 'sharp';

/**
 * A neutral demo picture the project draws itself (no photo of anyone): a sunny landscape with a house, a tree
 * and a lake, with enough colour, texture and edges that each style shows its look on it. Used for the style
 * gallery when a user has no photo to show it on.
 */
const DEMO_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="640" height="480" viewBox="0 0 640 480">
  <defs>
    <linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#4a8fd8"/><stop offset="1" stop-color="#cfe6f7"/></linearGradient>
    <linearGradient id="lake" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#5d9fcf"/><stop offset="1" stop-color="#2b5f8a"/></linearGradient>
    <radialGradient id="sun"><stop offset="0" stop-color="#fffbe0"/><stop offset="0.6" stop-color="#ffe27a"/><stop offset="1" stop-color="#ffd24a" stop-opacity="0"/></radialGradient>
    <radialGradient id="crown" cx="0.4" cy="0.35"><stop offset="0" stop-color="#7cc45a"/><stop offset="1" stop-color="#2f6e2a"/></radialGradient>
  </defs>
  <rect width="640" height="480" fill="url(#sky)"/>
  <circle cx="520" cy="90" r="70" fill="url(#sun)"/>
  <g fill="#ffffff" opacity="0.9"><ellipse cx="140" cy="80" rx="60" ry="22"/><ellipse cx="185" cy="68" rx="42" ry="26"/><ellipse cx="330" cy="120" rx="50" ry="16"/></g>
  <path d="M0 250 L110 150 L190 215 L290 120 L400 230 L470 180 L640 260 L640 300 L0 300 Z" fill="#7d8aa6"/>
  <path d="M290 120 L320 148 L300 146 L285 160 L270 142 Z" fill="#f4f7fb"/>
  <path d="M0 300 Q160 240 330 290 T640 280 L640 480 L0 480 Z" fill="#6fae45"/>
  <path d="M0 360 Q200 320 420 370 T640 360 L640 480 L0 480 Z" fill="#4f8f33"/>
  <ellipse cx="470" cy="400" rx="150" ry="40" fill="url(#lake)"/>
  <path d="M360 395 Q470 385 580 398" stroke="#d7ecfa" stroke-width="3" fill="none" opacity="0.7"/>
  <rect x="150" y="270" width="130" height="90" fill="#e9d3a8" stroke="#6b4a2b" stroke-width="3"/>
  <path d="M138 272 L215 215 L292 272 Z" fill="#b5432f" stroke="#6b2a1e" stroke-width="3"/>
  <rect x="200" y="310" width="30" height="50" fill="#7a4a27"/>
  <rect x="165" y="290" width="26" height="24" fill="#9fd3f0" stroke="#ffffff" stroke-width="3"/>
  <rect x="240" y="290" width="26" height="24" fill="#9fd3f0" stroke="#ffffff" stroke-width="3"/>
  <rect x="72" y="300" width="16" height="70" fill="#6b4423"/>
  <circle cx="80" cy="280" r="48" fill="url(#crown)"/>
  <g fill="#e8473c"><circle cx="62" cy="270" r="6"/><circle cx="95" cy="292" r="6"/><circle cx="84" cy="258" r="5"/></g>
  <g fill="#ffd23f"><circle cx="330" cy="430" r="7"/><circle cx="352" cy="446" r="6"/><circle cx="120" cy="420" r="7"/><circle cx="300" cy="455" r="6"/></g>
  <g fill="#f2f2f2"><circle cx="330" cy="430" r="2.5"/><circle cx="120" cy="420" r="2.5"/></g>
  <path d="M420 200 q10 -8 20 0 q10 -8 20 0" stroke="#2d2d2d" stroke-width="3" fill="none"/>
</svg>`;

let cached: Promise<Buffer> | undefined;

/** The demo picture as PNG bytes (drawn once per process). */
export function demoScenePng(): Promise<Buffer> {
  cached ??= sharp(Buffer.from(DEMO_SVG)).png().toBuffer();
  return cached;
}
