// The quality menu: Auto (the player picks by measured throughput) and each variant of the multivariant playlist,
// highest first, labelled by height ("Source · 720p", "360p"). Hidden while the channel has one variant only.

export function mountQuality(player, select) {
  let names = '';
  player.addEventListener('variants', ({ detail }) => {
    const variants = detail.variants;
    const key = variants.map((v) => v.name).join(',');
    if (key === names) return;
    names = key;
    const chosen = player.quality ?? 'auto';
    select.replaceChildren(new Option('Auto', 'auto'), ...variants.map((v) => {
      const label = v.name === 'source' ? `Source${v.height ? ` · ${v.height}p` : ''}` : v.name;
      return new Option(label, v.name);
    }));
    select.value = variants.some((v) => v.name === chosen) ? chosen : 'auto';
    select.hidden = variants.length < 2;
  });
  select.addEventListener('change', () => player.setQuality(select.value));
}
