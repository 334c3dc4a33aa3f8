// Bundles the live dashboard in www/ with the resocket npm package from pkg/ (built by
// `scripts/build.sh`: the engine's wasm and the entry modules), imported as `resocket` exactly as an app would, and uPlot
// (the price chart) from node_modules. Static files are copied as they are.
const path = require('path');
const fs = require('fs');

// Copies files into the output: `{ 'name in dist': 'path from the repository root' }`.
class CopyStaticPlugin {
  constructor(files) {
    this.files = files;
  }
  apply(compiler) {
    compiler.hooks.thisCompilation.tap('CopyStaticPlugin', (compilation) => {
      compilation.hooks.processAssets.tap(
        { name: 'CopyStaticPlugin', stage: compiler.webpack.Compilation.PROCESS_ASSETS_STAGE_ADDITIONAL },
        () => {
          for (const [name, from] of Object.entries(this.files)) {
            const file = path.join(__dirname, from);
            compilation.emitAsset(name, new compiler.webpack.sources.RawSource(fs.readFileSync(file)));
            compilation.fileDependencies.add(file);
          }
        },
      );
    });
  }
}

module.exports = (env = {}) => ({
  mode: env.development ? 'development' : 'production',
  entry: path.join(__dirname, 'www', 'index.js'),
  output: {
    path: path.join(__dirname, 'www', 'dist'),
    filename: 'dashboard.js',
    clean: true,
  },
  resolve: {
    // `resocket/resume` (the class with the resume protocol, for the dashboard's resume switch)
    // by its file: an alias to a directory does not read package.json `exports`.
    alias: {
      'resocket/resume$': path.join(__dirname, 'pkg', 'resume', 'resocket.js'),
      resocket: path.join(__dirname, 'pkg'),
    },
  },
  experiments: { asyncWebAssembly: true },
  performance: { hints: false },
  plugins: [new CopyStaticPlugin({
    'index.html': 'www/index.html',
    'style.css': 'www/style.css',
    'uPlot.min.css': 'node_modules/uplot/dist/uPlot.min.css',
  })],
});
