/* rank_split.h — splitting a bound graph between the ranks of an MPI job (graph/rank_split.c). */
#ifndef HCG_RANK_SPLIT_H
#define HCG_RANK_SPLIT_H

#include "graph/graph.h"

/* hcg_graph_names_ranks (whether some node of g is pinned to a rank, "rankN:DEVICE") is public:
 * hcg.h. */
/* Keeps rank me's part of bound graph b (of a job of `ranks` ranks): its nodes, with their pins
 * made local, a send for every value another rank reads, and a recv in place of every value it
 * reads from another rank; the graph's outputs reach every rank. */
hcg_status hcg_graph_split_ranks(hcg_graph *b, int me, int ranks);

#endif
