// One kvm-unit-tests binary on the emulated model: vmexit's cpuid benchmark, from ../shared/testdata (see its README).
// Other tests: change `image` and `args` (unittests.cfg's test_args); the helper is in lib/kvm-unit-test.js.
import { machine } from 'virtshell';
import { kvmUnitTest } from './lib/kvm-unit-test.js';

export default machine(kvmUnitTest({
  image: '../../shared/testdata/kvm-unit-tests/i386/vmexit.flat',
  args: 'cpuid',
  environ: './lib/kvm-unit-test.environ',
}));
