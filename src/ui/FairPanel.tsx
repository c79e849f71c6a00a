// The fair comparison's settings, in the Start bar: the toggle, and when on, the learning-rate sweep (on or
// off, its grid as decades from each method's default) and the seeds per method. With the toggle on, Start
// runs starts a fair comparison (FairDriver.tsx) instead of one run per method. Saved across reloads with
// the other settings (store/persist.ts).
import { memo } from 'react';
import { useAppStore } from '../store';

export const FairPanel = memo(function FairPanel() {
  const fair = useAppStore((s) => s.fair);
  const setFair = useAppStore((s) => s.setFair);
  const lrSet = useAppStore((s) => s.hyper.lr !== null);
  return (
    <fieldset className="fair" data-testid="fair-settings">
      <label title="Per method: a learning-rate sweep, then several seeds at the best rate; the table shows mean ± sd">
        <input
          type="checkbox"
          name="fairEnabled"
          checked={fair.enabled}
          onChange={(e) => setFair({ enabled: e.target.checked })}
        />{' '}
        Fair comparison
      </label>
      {fair.enabled && (
        <>
          {' '}
          <label
            title={`Before the seeded runs, train each method once (seed 0, same steps × batch × seq len) per rate of ${lrSet ? 'the form’s learning rate' : 'its default learning rate'} × 10^k and keep the rate with the lowest final eval loss`}
          >
            <input
              type="checkbox"
              name="fairSweep"
              checked={fair.sweep}
              onChange={(e) => setFair({ sweep: e.target.checked })}
            />{' '}
            LR sweep
          </label>{' '}
          {fair.sweep && (
            <label title="Decades from each method's default rate: 0,1,2 tries 1×, 10× and 100× it">
              × 10^k, k ={' '}
              <input
                name="fairGrid"
                size={8}
                value={fair.grid}
                onChange={(e) => setFair({ grid: e.target.value })}
              />
            </label>
          )}{' '}
          <label title="Runs per method at the chosen rate (fresh seeds); the table shows their mean ± sd">
            seeds{' '}
            <input
              name="fairSeeds"
              type="number"
              min={1}
              max={10}
              value={fair.seeds}
              onChange={(e) =>
                setFair({ seeds: Math.max(1, Math.min(10, Math.floor(Number(e.target.value) || 1))) })
              }
            />
          </label>
        </>
      )}
    </fieldset>
  );
});
