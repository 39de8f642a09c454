// pybind11 bindings for the spme part of the core (registered from core.cpp).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

namespace py = pybind11;

void bind_spme(py::module_& m) { (void)m; }
