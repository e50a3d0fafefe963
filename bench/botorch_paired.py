"""Paired per-seed best-value differences, BoTorchSampler methods minus the default GP (search_batch.json), same seeds."""
import json, math, statistics as st
from pathlib import Path

RES = Path(__file__).parent / "results"
gp=json.load(open(RES / "search_batch.json"))['traces']
bo={}
for f in ('botorch_loops.jsonl','botorch_loops_50.jsonl'):
    for d in map(json.loads,open(RES / f)):
        bo.setdefault((d['problem'],d['method'],f),{})[d['seed']]=d['values']
pairs=[('botorch','gp',25,'botorch_loops.jsonl'),('botorch-qlognei','gp',25,'botorch_loops.jsonl'),('botorch-qlogei','gp',25,'botorch_loops.jsonl'),
       ('botorch-c8','gp-c8',25,'botorch_loops.jsonl'),('botorch-c16','gp-c16',25,'botorch_loops.jsonl'),('botorch','gp',50,'botorch_loops_50.jsonl')]
for p in ('branin','hartmann6','mixed'):
    for m,g,b,f in pairs:
        if (p,m,f) not in bo: continue
        B=bo[(p,m,f)]; G=gp[f'{p}/{g}']
        if len(G[0])<b: continue
        d=[min(B[s][:b])-min(G[s][:b]) for s in sorted(B)]
        wins=sum(x<-1e-9 for x in d); losses=sum(x>1e-9 for x in d)
        print(f'{p:10s} {m:16s} vs {g:7s} b{b}: n={len(d)} mean diff {st.mean(d):+.3f} ± {st.stdev(d)/math.sqrt(len(d)):.3f}  botorch better {wins}, worse {losses}')
