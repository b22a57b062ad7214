{
  "targets": [
    {
      "target_name": "peregrine_probe",
      "sources": ["src/addon.cc"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "src",
        "<(module_root_dir)/../.cache/native/gen"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-O2", "-Wall"],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": ["-lbpf", "-lelf", "-lz"]
    }
  ]
}
