// How an app bundles the installed package with webpack 5: the bundler build imports its .wasm,
// which needs `experiments.asyncWebAssembly`.
const path = require('path');

module.exports = (outDir) => ({
  mode: 'production',
  context: __dirname,
  entry: path.join(__dirname, 'page.js'),
  output: { path: outDir, filename: 'page.js', clean: true },
  experiments: { asyncWebAssembly: true },
  performance: { hints: false },
});
