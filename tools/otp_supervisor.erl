%% The supervision scenarios of tests/actors/test_actor_supervisor.py, run by Erlang/OTP's own
%% `supervisor`: the reference for what Kenshō's Supervisor must do (docs/actors.md).
%%
%%   cd tools && erlc otp_supervisor.erl && erl -noshell -s otp_supervisor run -s init stop
%%
%% Each scenario prints the children's starts (after the initial ones) and the outcome. Results
%% with OTP 25 (2026-11-29), as the tests expect them:
%%   temporary_sibling  one_for_all / rest_for_one: starts [a,b]; t is gone for good
%%   exited_temporary   one_for_all: starts [a,b]; t stays down
%%   exited_transient   one_for_all: starts [a,tr,b]; tr comes back
%%   simultaneous       one_for_all [a,b] and [b,a]: [a,b,c], alive (one cycle)
%%                      rest_for_one [b,c]: [b,c], alive; [c,b]: [c], gives up (two cycles)
%%                      one_for_one [c,b]: [c], gives up
%%   child_sup_gives_up transient: not restarted (pid undefined); permanent: restarted
-module(otp_supervisor).
-behaviour(supervisor).
-export([init/1, start_worker/1, run/0]).

init({Strategy, Intensity, Specs}) ->
    {ok, {#{strategy => Strategy, intensity => Intensity, period => 30}, Specs}}.

start_worker(Name) ->
    Pid = spawn_link(fun() -> worker() end),
    log({start, Name}),
    {ok, Pid}.

worker() ->
    receive
        {crash, Reason} -> exit(Reason);
        stop -> ok
    end.

log(Event) -> io:format("  ~p~n", [Event]).

w(Name, Restart) ->
    #{id => Name, start => {?MODULE, start_worker, [Name]}, restart => Restart, shutdown => 1000}.

pid(Sup, Id) ->
    {_, Pid, _, _} = lists:keyfind(Id, 1, supervisor:which_children(Sup)),
    Pid.

children(Sup) -> lists:reverse([{Id, Pid =/= undefined} || {Id, Pid, _, _} <- supervisor:which_children(Sup)]).

finish(Sup) ->
    timer:sleep(100),
    Alive = is_process_alive(Sup),
    log({alive, Alive}),
    case Alive of
        true -> log({children, children(Sup)}), unlink(Sup), exit(Sup, shutdown);
        false -> ok
    end,
    timer:sleep(50).

start(Strategy, Intensity, Specs) ->
    {ok, Sup} = supervisor:start_link(?MODULE, {Strategy, Intensity, Specs}),
    log(initial_starts_done),
    Sup.

run() ->
    process_flag(trap_exit, true),
    [begin
         io:format("temporary_sibling ~p~n", [S]),
         Sup = start(S, 10, [w(a, permanent), w(t, temporary), w(b, permanent)]),
         pid(Sup, a) ! {crash, boom},
         finish(Sup)
     end || S <- [one_for_all, rest_for_one]],

    io:format("exited_temporary one_for_all~n"),
    S2 = start(one_for_all, 10, [w(a, permanent), w(t, temporary), w(b, permanent)]),
    pid(S2, t) ! {crash, boom}, timer:sleep(50),
    pid(S2, a) ! {crash, boom},
    finish(S2),

    io:format("exited_transient one_for_all~n"),
    S3 = start(one_for_all, 10, [w(a, permanent), w(tr, transient), w(b, permanent)]),
    pid(S3, tr) ! stop, timer:sleep(50),
    pid(S3, a) ! {crash, boom},
    finish(S3),

    [begin
         io:format("simultaneous ~p ~p~n", [S, Order]),
         Sup = start(S, 1, [w(a, permanent), w(b, permanent), w(c, permanent)]),
         Pids = [pid(Sup, N) || N <- Order],
         sys:suspend(Sup),  % both exits wait in its mailbox, in this order
         [begin P ! {crash, boom}, timer:sleep(20) end || P <- Pids],
         sys:resume(Sup),
         finish(Sup)
     end || {S, Order} <- [{one_for_all, [a, b]}, {one_for_all, [b, a]}, {rest_for_one, [b, c]},
                           {rest_for_one, [c, b]}, {one_for_one, [c, b]}]],

    [begin
         io:format("child_sup_gives_up ~p~n", [Restart]),
         Inner = #{id => inner, type => supervisor, restart => Restart,
                   start => {supervisor, start_link,
                             [{local, inner}, ?MODULE, {one_for_one, 0, [w(x, permanent)]}]}},
         Sup = start(one_for_one, 10, [w(a, permanent), Inner]),
         pid(inner, x) ! {crash, boom},
         finish(Sup)
     end || Restart <- [transient, permanent]],
    ok.
