//! Eulerian grid discretisation of the lifted model (JKO scheme).
