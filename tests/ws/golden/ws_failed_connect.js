import ws from 'k6/ws';
export const options = { vus: 1, iterations: 1 };
export default function () {
  for (const p of ['/forbid', '/plain', '/ws']) {
    const res = ws.connect('ws://127.0.0.1:18901' + p, {}, function (s) {
      s.on('open', () => s.send('close1002'));
      s.on('close', (c) => console.log('close code', c));
      s.on('error', (e) => console.log('error ev', e.error()));
      s.setTimeout(() => s.close(), 1000);
    });
    console.log(p, JSON.stringify(res && {status: res.status, error: res.error}));
  }
  try { const r = ws.connect('ws://127.0.0.1:1/x', {}, function(s){}); console.log('refused', JSON.stringify({status: r.status, error: r.error})); } catch (e) { console.log('threw', e); }
}
