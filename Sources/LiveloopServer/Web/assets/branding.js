// A channel's branding (its audience settings' `branding`: colours, logo, font) applied as CSS custom properties on
// a page, so the watch page and the embed wear the customer's look without a rebuild. Values were validated by the
// server (hex colours, an https or local logo URL, a plain font-family list).

const COLOURS = { accent: ['--accent', '--accent-strong'], background: ['--bg'], surface: ['--surface'], text: ['--text'] };

/** Relative luminance of a #rgb/#rrggbb colour (WCAG 2), or null. */
function luminance(hex) {
  let h = hex.replace('#', '');
  if (h.length === 3 || h.length === 4) h = [...h.slice(0, 3)].map((c) => c + c).join('');
  if (h.length < 6) return null;
  const [r, g, b] = [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16) / 255)
    .map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

export function applyBranding(branding, { root = document.documentElement, logo = null } = {}) {
  if (!branding) return;
  for (const [field, properties] of Object.entries(COLOURS)) {
    const value = branding[field];
    if (typeof value !== 'string' || !/^#[0-9a-fA-F]{3,8}$/.test(value)) continue;
    for (const property of properties) root.style.setProperty(property, value);
  }
  if (typeof branding.accent === 'string') {
    const l = luminance(branding.accent);
    if (l !== null) root.style.setProperty('--accent-text', l > 0.4 ? '#0b0e1a' : '#ffffff');
  }
  if (typeof branding.font === 'string' && branding.font) root.style.setProperty('--font', branding.font);
  if (logo && typeof branding.logoURL === 'string' && branding.logoURL) {
    const img = document.createElement('img');
    img.src = branding.logoURL;
    img.alt = '';
    img.className = 'brand-logo';
    logo.replaceChildren(img);
    logo.hidden = false;
  }
  root.dataset.branded = 'true';
}
