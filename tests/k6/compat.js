// The same workload as compat_scenario.py, for the real k6 (compatibility test).
import http from 'k6/http';
import { check, group } from 'k6';
import { Counter, Gauge, Rate, Trend } from 'k6/metrics';

const myCounter = new Counter('my_counter');
const myGauge = new Gauge('my_gauge');
const myRate = new Rate('my_rate');
const myTrend = new Trend('my_trend', true);
const BASE = __ENV.BASE_URL;

export const options = {
  scenarios: {
    car: { executor: 'constant-arrival-rate', rate: 20, timeUnit: '1s', duration: '1030ms',
           preAllocatedVUs: 5, exec: 'shop' },
    rar: { executor: 'ramping-arrival-rate', startRate: 5, timeUnit: '1s', preAllocatedVUs: 5,
           stages: [{ target: 5, duration: '1s' }, { target: 0, duration: '1s' }], exec: 'shop' },
    pervu: { executor: 'per-vu-iterations', vus: 2, iterations: 3, exec: 'shop' },
  },
  thresholds: {
    http_req_duration: ['p(95)<5000', 'avg<4000'],
    'http_req_duration{status:200}': ['max<5000'],
    checks: ['rate>0.9'],
    http_req_failed: ['rate<0.6'],
    'iterations{scenario:car}': ['count>0'],
    'iterations{scenario:rar}': ['count>0'],
    'iterations{scenario:pervu}': ['count==6'],
    my_counter: ['count>1'],
    my_gauge: ['value<100'],
    my_rate: ['rate>0.1'],
    my_trend: ['med>0'],
  },
};

export function shop() {
  group('front', function () {
    const r = http.get(`${BASE}/`);
    check(r, { 'status is 200': (r) => r.status === 200 });
    group('nested', function () {
      const r2 = http.get(`${BASE}/status/404`);
      check(r2, { 'is 404': (r) => r.status === 404, 'is 200': (r) => r.status === 200 });
    });
  });
  myCounter.add(3);
  myGauge.add(10);
  myRate.add(true);
  myRate.add(false);
  myTrend.add(12.5);
}
